import { readOrCreateSecretFile } from './secretFile.js';

/** Minimum length of a configured token secret, in bytes of UTF-8 (HS256 wants at least 256 bits). */
export const minTokenSecretBytes = 32;

/**
 * The HS256 key that signs participant tokens. A configured secret wins; otherwise the key in
 * `<dataDir>/token-secret` is used, generated (32 random bytes) with mode 0600 on first start, so tokens survive
 * restarts and every process on the machine shares one key.
 */
export function loadTokenSecret(configured: string | undefined, dataDir: string): Uint8Array {
	if (configured !== undefined) {
		const bytes = new TextEncoder().encode(configured);
		if (bytes.length < minTokenSecretBytes) throw new Error(`TRIBUNE_TOKEN_SECRET must be at least ${minTokenSecretBytes} bytes`);
		return bytes;
	}
	const { file, stored } = readOrCreateSecretFile(dataDir, 'token-secret');
	if (Buffer.from(stored, 'base64url').length < minTokenSecretBytes) throw new Error(`${file} does not hold a 32-byte key; delete it to generate one`);
	return new TextEncoder().encode(stored);
}
