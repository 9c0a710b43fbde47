/**
 * Property tests are deterministic in CI: every `fc.assert` without a seed of
 * its own uses this one. `FC_SEED=random npm test` explores new cases (a
 * failure prints its seed; `FC_SEED=<seed>` replays it).
 */
import fc from 'fast-check';

const seed = process.env['FC_SEED'];
if (seed !== 'random') fc.configureGlobal({ seed: Number(seed ?? 20261202) });
