import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The secret kept in `<dataDir>/<name>`, generated (32 random bytes, base64url) with mode 0600 on first use, so it
 * survives restarts and every process on the machine shares it. Returned trimmed; the caller checks its shape.
 */
export function readOrCreateSecretFile(dataDir: string, name: string): { file: string; stored: string } {
	const file = path.join(dataDir, name);
	fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
	try {
		// 'wx': fail if it exists, so two processes starting together do not overwrite each other's secret.
		fs.writeFileSync(file, randomBytes(32).toString('base64url'), { flag: 'wx', mode: 0o600 });
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
	}
	return { file, stored: fs.readFileSync(file, 'utf8').trim() };
}
