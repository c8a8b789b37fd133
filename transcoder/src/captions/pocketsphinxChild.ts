/**
 * The recogniser process of one `PocketsphinxEngine`: runs PocketSphinx through koffi (`PocketsphinxDecoder`) in
 * `runRecogniserChild`, which reads PCM from stdin and sends results over the IPC channel. With a vocabulary, the
 * general language model is interpolated with the space's words (`PocketsphinxDecoder`), words missing from the
 * dictionary pronounced by flite's lexicon (`flitePronunciation`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flitePronunciation } from './fliteLexicon.js';
import { PocketsphinxDecoder } from './PocketsphinxDecoder.js';
import { runRecogniserChild } from './recogniserChild.js';
import { recogniserConfigSchema } from './recogniserProtocol.js';

void runRecogniserChild((raw, vocabulary) => {
	const config = recogniserConfigSchema.parse(raw);
	if (vocabulary.length === 0) return { decoder: new PocketsphinxDecoder(config.args), loop: config.loop };
	// The decoder reads the general model itself, to interpolate it: `-lm` leaves the arguments.
	const lm = config.args.indexOf('-lm');
	const baseLmFile = config.args[lm + 1];
	if (lm < 0 || baseLmFile === undefined) throw new Error('pocketsphinx arguments name no -lm');
	const args = config.args.filter((_, i) => i !== lm && i !== lm + 1);
	const lmDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-vocabulary-'));
	try {
		const decoder = new PocketsphinxDecoder(args, { words: vocabulary, weight: config.vocabularyWeight, baseLmFile, lmDir, pronounce: flitePronunciation });
		return { decoder, loop: config.loop };
	} finally {
		fs.rmSync(lmDir, { recursive: true, force: true });
	}
});
