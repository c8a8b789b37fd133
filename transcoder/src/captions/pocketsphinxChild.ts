/**
 * The recogniser process of one `PocketsphinxEngine`: runs PocketSphinx through koffi (`PocketsphinxDecoder`) in
 * `runRecogniserChild`, which reads PCM from stdin and sends results over the IPC channel.
 */
import { PocketsphinxDecoder } from './PocketsphinxDecoder.js';
import { runRecogniserChild } from './recogniserChild.js';
import { recogniserConfigSchema } from './recogniserProtocol.js';

void runRecogniserChild((raw) => {
	const config = recogniserConfigSchema.parse(raw);
	return { decoder: new PocketsphinxDecoder(config.args), loop: config.loop };
});
