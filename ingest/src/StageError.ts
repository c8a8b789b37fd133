/**
 * A refusal from the stage that the caller can show a client: a publish the peer is not granted, an unknown
 * transport, a second producer of a kind, screen shares started too often. The codes match entries of the API's error catalogue.
 */
export class StageError extends Error {
	override readonly name = 'StageError';
	readonly code: 'forbidden' | 'not_found' | 'conflict' | 'bad_request' | 'rate_limited';

	constructor(code: StageError['code'], message: string) {
		super(message);
		this.code = code;
	}
}
