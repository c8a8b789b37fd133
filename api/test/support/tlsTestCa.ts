import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';

/** A throwaway certificate authority made with openssl for one test, and leaf certificates it signs. */
export class TestCa {
	readonly dir: string;
	readonly certFile: string;
	readonly #keyFile: string;
	#serial = 0;

	private constructor(dir: string) {
		this.dir = dir;
		this.certFile = path.join(dir, 'ca.pem');
		this.#keyFile = path.join(dir, 'ca.key');
	}

	/** A new CA (P-256, valid 2 days) in `dir`. */
	static create(dir: string): TestCa {
		fs.mkdirSync(dir, { recursive: true });
		const ca = new TestCa(dir);
		openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.#keyFile, '-out', ca.certFile, '-days', '2',
			'-subj', '/CN=Tribune Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
		return ca;
	}

	get pem(): Buffer {
		return fs.readFileSync(this.certFile);
	}

	/** base64 SHA-256 of the CA's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list form). */
	get spkiSha256(): string {
		const spki = new X509Certificate(this.pem).publicKey.export({ type: 'spki', format: 'der' });
		return createHash('sha256').update(spki).digest('base64');
	}

	/**
	 * A server certificate for `names` (DNS names and IPs) with a new key: `fullchain` (leaf then CA, as certbot writes
	 * it) and `key` PEM, and the leaf's SHA-256 fingerprint.
	 */
	issue(names: string[]): { fullchain: Buffer; key: Buffer; fingerprint: string } {
		const n = ++this.#serial;
		const base = path.join(this.dir, `leaf-${n}`);
		const san = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
		fs.writeFileSync(`${base}.ext`, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n`);
		openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${names[0]}`]);
		openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', this.certFile, '-CAkey', this.#keyFile, '-set_serial', String(1000 + n), '-days', '1', '-extfile', `${base}.ext`, '-out', `${base}.pem`]);
		const leaf = fs.readFileSync(`${base}.pem`);
		return { fullchain: Buffer.concat([leaf, this.pem]), key: fs.readFileSync(`${base}.key`), fingerprint: new X509Certificate(leaf).fingerprint256 };
	}
}

function openssl(args: string[]): void {
	execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Replaces a file whole (write beside, rename), as certbot and most renewal tools do. */
export function replaceFile(file: string, content: Buffer): void {
	const temporary = `${file}.tmp-${process.pid}`;
	fs.writeFileSync(temporary, content, { mode: 0o600 });
	fs.renameSync(temporary, file);
}

/**
 * GET over HTTPS trusting only `ca`, with SNI and Host `servername` while connecting to `address`; the status, body,
 * Location header and the fingerprint of the certificate the server presented.
 */
export function httpsGet(url: string, ca: Buffer, servername: string, address = '127.0.0.1'): Promise<{ status: number; body: string; fingerprint: string }> {
	return new Promise((resolve, reject) => {
		const u = new URL(url);
		const req = https.get({ host: address, port: u.port, path: `${u.pathname}${u.search}`, servername, headers: { host: `${servername}:${u.port}` }, ca, agent: false, timeout: 5000 }, (res) => {
			const fingerprint = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? '';
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (chunk: string) => (body += chunk));
			res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
		});
		req.on('timeout', () => req.destroy(new Error('timed out')));
		req.on('error', reject);
	});
}
