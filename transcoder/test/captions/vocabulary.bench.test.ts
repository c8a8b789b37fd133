import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { vocabularyWords } from '../../src/captions/captionVocabulary.js';
import { assertBuilt, collectingEngine } from './support/engineHarness.js';
import { stageSentences } from './support/stageSentences.js';
import { benchVoices, werByVoice } from './support/werByVoice.js';

/**
 * Word error rate with and without the space's vocabulary (`PocketsphinxEngine.setVocabulary`). Skipped unless
 * TRIBUNE_BENCH=1. A made-up space — its title, description, speakers and a host's list, written before any run —
 * and sentences that use those words (`vocabularySentences`, never used to build anything); each voice of the
 * per-voice set says them as one speaker. Also the stage sentences (which use none of the words) with the
 * vocabulary, to show what it costs elsewhere. Ends with one JSON line (also merged into TRIBUNE_BENCH_OUT).
 */
const space = {
	title: 'Kubernetes operators office hours',
	description: 'How we run Grafana, Prometheus and Terraform at scale, and what broke last quarter.',
	speakers: ['Siobhan Okonkwo', 'Priya Raghunathan', 'Mateusz Kowalczyk'],
	words: ['mediasoup', 'WebRTC', 'Kafka', 'Zipformer', 'Tribune', 'Helm', 'Istio'],
};
export const vocabularySentences: readonly string[] = [
	'Welcome to kubernetes operators office hours.',
	'Siobhan Okonkwo will talk about grafana dashboards first.',
	'Priya Raghunathan runs prometheus for the whole platform team.',
	'We moved our terraform state to a new bucket last week.',
	'The kafka cluster was the first thing to break.',
	'Tribune uses mediasoup for the stage and webrtc for the speakers.',
	'Mateusz Kowalczyk wrote the helm charts we still use.',
	'Our operators restart the pods when prometheus sends an alert.',
	'Siobhan thinks grafana is easier to learn than kafka.',
	'Istio added too much latency, so we took it out.',
	'Priya asked whether the zipformer model runs on one core.',
	'Thanks Mateusz, and thanks Siobhan, for joining us today.',
];

const bench = process.env.TRIBUNE_BENCH === '1';
const voices = (process.env.TRIBUNE_BENCH_VOICES?.split(',') ?? benchVoices) as (typeof benchVoices)[number][];

describe.runIf(bench)('captions bench: the space vocabulary', () => {
	it('WER on sentences using the space\'s words, and on the stage sentences, with and without the vocabulary', async () => {
		assertBuilt();
		const words = vocabularyWords([...space.words, ...space.speakers, space.title, space.description]);
		const engine = (withWords: boolean) => () => {
			const { engine: e } = collectingEngine({ maxBacklogMs: 3_600_000 });
			if (withWords) e.setVocabulary(words);
			return e;
		};
		const without = await werByVoice({ voices, sentences: vocabularySentences, engine: engine(false) });
		const withWords = await werByVoice({ voices, sentences: vocabularySentences, engine: engine(true) });
		const stageWithout = await werByVoice({ voices, sentences: stageSentences, engine: engine(false) });
		const stageWith = await werByVoice({ voices, sentences: stageSentences, engine: engine(true) });
		const summary = {
			vocabulary_words: words.length,
			wer_space_sentences_without: without.wer,
			wer_space_sentences_with: withWords.wer,
			wer_space_sentences_by_voice_without: without.byVoice,
			wer_space_sentences_by_voice_with: withWords.byVoice,
			wer_stage_without: stageWithout.wer,
			wer_stage_with: stageWith.wer,
			wer_stage_by_voice_with: stageWith.byVoice,
			loadavg_end: os.loadavg().map((l) => Math.round(l * 100) / 100),
		};
		console.log(`with the vocabulary, errors left:\n${withWords.mistakes.join('\n')}`);
		const line = JSON.stringify(summary);
		if (process.env.TRIBUNE_BENCH_OUT && fs.existsSync(process.env.TRIBUNE_BENCH_OUT)) {
			const before = JSON.parse(fs.readFileSync(process.env.TRIBUNE_BENCH_OUT, 'utf8').trim().split('\n').at(-1)!) as object;
			fs.writeFileSync(process.env.TRIBUNE_BENCH_OUT, `${JSON.stringify({ ...before, vocabulary: summary })}\n`);
		}
		console.log(line);
		expect(withWords.words).toBeGreaterThan(vocabularySentences.length * voices.length * 5);
	}, 3_600_000);
});
