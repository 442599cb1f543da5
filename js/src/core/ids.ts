/**
 * The wasm core's ids as literal types. The module exports the same lists (`coreIds(kind)`:
 * crates/wxpay-wasm/src/ids.rs, tied to the core's enums);
 * js/test/core-ids.test.mjs fails when they differ. Ids from the core are checked, never cast.
 */

/** Where a payment is started: the core's `Surface::ALL`. */
export const SURFACES = [
  'mini-program',
  'uni-mp-weixin',
  'uni-app',
  'weixin-js-bridge',
  'js-sdk',
  'app',
  'h5',
  'native',
] as const;

/** Where the code runs: the core's `Environment`. */
export const ENVIRONMENTS = [
  'mini-program',
  'mini-program-web-view',
  'we-chat-browser',
  'other-mobile-browser',
  'desktop-browser',
  'uni-app',
  'unknown',
] as const;

/** The core's default channel of an environment (`Environment::default_channel`). */
export const CORE_CHANNELS = ['mini-program', 'jsapi', 'h5', 'native', 'app', 'web-view-handoff'] as const;

/** A surface id. */
export type SurfaceId = (typeof SURFACES)[number];
/** An environment id. */
export type EnvironmentId = (typeof ENVIRONMENTS)[number];
/** A core channel id (not the server's `PayChannel`: see `client.ts` for the mapping). */
export type CoreChannel = (typeof CORE_CHANNELS)[number];

const member =
  <T extends string>(list: readonly T[]) =>
  (id: string): id is T =>
    (list as readonly string[]).includes(id);

/** True for an id of {@link ENVIRONMENTS}. */
export const isEnvironment: (id: string) => id is EnvironmentId = member(ENVIRONMENTS);
/** True for an id of {@link CORE_CHANNELS}. */
export const isCoreChannel: (id: string) => id is CoreChannel = member(CORE_CHANNELS);
