import { describe, expect, it } from 'vitest';
import { buildPocketsphinxArgs, resolvePocketsphinxOptions } from './pocketsphinxOptions.js';

describe('buildPocketsphinxArgs', () => {
	it('gives the Debian model, our search limits and frame-based VAD timings by default', () => {
		expect(buildPocketsphinxArgs(resolvePocketsphinxOptions()).join(' ')).toBe(
			'-hmm /usr/share/pocketsphinx/model/en-us/en-us ' +
				'-lm /usr/share/pocketsphinx/model/en-us/en-us.lm.bin ' +
				'-dict /usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict ' +
				'-vad_postspeech 30 -vad_prespeech 20 -vad_threshold 2 -maxhmmpf 3000 -fwdflat no -bestpath yes ' +
				'-beam 1e-48 -wbeam 7e-29 -lw 6.5 -logfn /dev/null',
		);
	});

	it('passes the tuning switches only when set', () => {
		const args = buildPocketsphinxArgs(resolvePocketsphinxOptions({ removeNoise: false, dither: true })).join(' ');
		expect(args).toContain('-remove_noise no -dither yes');
		expect(buildPocketsphinxArgs(resolvePocketsphinxOptions()).join(' ')).not.toMatch(/-remove_noise|-dither/);
	});

	it('keeps paths as single arguments, whatever they contain', () => {
		const args = buildPocketsphinxArgs(resolvePocketsphinxOptions({ dictFile: '/models/my dict; rm -rf x.dict' }));
		expect(args[args.indexOf('-dict') + 1]).toBe('/models/my dict; rm -rf x.dict');
	});
});

describe('resolvePocketsphinxOptions', () => {
	it('rejects VAD timings that are not whole 10 ms frames', () => {
		expect(() => resolvePocketsphinxOptions({ vadPostspeechMs: 250.5 })).toThrow(/vadPostspeechMs/);
		expect(() => resolvePocketsphinxOptions({ vadPrespeechMs: 5 })).toThrow(/vadPrespeechMs/);
	});

	it('rejects beams that are not probabilities and a tiny HMM cap', () => {
		expect(() => resolvePocketsphinxOptions({ beam: 2 })).toThrow(/beam/);
		expect(() => resolvePocketsphinxOptions({ maxHmmsPerFrame: 10 })).toThrow(/maxHmmsPerFrame/);
	});
});
