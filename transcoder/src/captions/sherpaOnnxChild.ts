/**
 * The recogniser process of one `SherpaOnnxEngine`: loads sherpa-onnx and the model (`SherpaOnnxDecoder`) in
 * `runRecogniserChild`, which reads PCM from stdin and sends results over the IPC channel. A corrupt model makes
 * ONNX Runtime abort this process while loading: the engine reports that exit, with the library's message from
 * stderr, as the start failure. With a vocabulary and a model that ships `bpe.vocab`, the words become hotwords
 * (modified beam search); without `bpe.vocab` they cannot be split into the model's pieces and are left out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hotwordsText } from './captionVocabulary.js';
import { runRecogniserChild } from './recogniserChild.js';
import { SherpaOnnxDecoder, type SherpaHotwords } from './SherpaOnnxDecoder.js';
import { loadSherpaOnnx } from './sherpaOnnxModule.js';
import { sherpaRecogniserConfigSchema } from './sherpaOnnxProtocol.js';

void runRecogniserChild(async (raw, vocabulary) => {
	const config = sherpaRecogniserConfigSchema.parse(raw);
	const sherpa = await loadSherpaOnnx(config.packageName);
	const bpeVocab = path.join(config.model.dir, 'bpe.vocab');
	if (vocabulary.length === 0 || !fs.existsSync(bpeVocab)) {
		if (vocabulary.length > 0) process.stderr.write(`sherpa-onnx: the model has no bpe.vocab; the space's ${vocabulary.length} words are not used as hotwords\n`);
		return { decoder: new SherpaOnnxDecoder(sherpa, config.model, config.decoder), loop: config.loop };
	}
	// The models' pieces are capitals (LibriSpeech, GigaSpeech) or lower case; hotwords must be in the same case.
	const upperCase = !/[a-z]/.test(fs.readFileSync(config.model.tokens, 'utf8'));
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-hotwords-'));
	const file = path.join(dir, 'hotwords.txt');
	try {
		fs.writeFileSync(file, hotwordsText(vocabulary, upperCase), { mode: 0o600, flag: 'wx' });
		const hotwords: SherpaHotwords = { file, bpeVocab, score: config.hotwordsScore, maxActivePaths: 4 };
		return { decoder: new SherpaOnnxDecoder(sherpa, config.model, config.decoder, hotwords), loop: config.loop };
	} finally {
		// The recogniser has read the file by now.
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
