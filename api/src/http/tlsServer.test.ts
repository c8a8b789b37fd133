import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CertificateReloader, loadCertificate, redirectHost } from './tlsServer.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tribune-tls-unit-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A self-signed P-256 certificate and its key, made by openssl. */
function selfSigned(name: string): { cert: Buffer; key: Buffer } {
	const certFile = path.join(dir, `${name}.pem`);
	const keyFile = path.join(dir, `${name}.key`);
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`], { stdio: 'ignore' });
	return { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
}

const a = selfSigned('a.test');
const b = selfSigned('b.test');
const write = (name: string, content: Buffer | string): string => {
	const file = path.join(dir, name);
	fs.writeFileSync(`${file}.tmp`, content);
	fs.renameSync(`${file}.tmp`, file);
	return file;
};

describe('loadCertificate()', () => {
	it('loads a matching pair and says what it is', () => {
		const loaded = loadCertificate(write('a-cert', a.cert), write('a-key', a.key));
		expect(loaded.subject).toBe('CN=a.test');
		expect(loaded.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
		expect(loaded.notAfter.getTime()).toBeGreaterThan(Date.now());
	});

	it('names the file and the problem: missing, not PEM, or a key that is not the certificate\'s', () => {
		expect(() => loadCertificate(path.join(dir, 'nope.pem'), write('k1', a.key))).toThrow(/TLS_CERT_FILE .*nope\.pem: ENOENT/);
		expect(() => loadCertificate(write('junk', 'not a certificate'), write('k2', a.key))).toThrow(/TLS_CERT_FILE .*junk: not a PEM certificate/);
		expect(() => loadCertificate(write('c3', a.cert), write('junk-key', 'not a key'))).toThrow(/TLS_KEY_FILE .*junk-key: not a PEM private key/);
		expect(() => loadCertificate(write('c4', a.cert), write('k4', b.key))).toThrow(/is not the key of the certificate/);
	});
});

describe('CertificateReloader', () => {
	it('gives the server a renewed pair, and keeps the old one while the pair does not match', () => {
		const certFile = write('live-cert', a.cert);
		const keyFile = write('live-key', a.key);
		const setSecureContext = vi.fn();
		const logger = pino({ level: 'silent' });
		const warn = vi.spyOn(logger, 'warn');
		const reloader = new CertificateReloader({ setSecureContext } as unknown as https.Server, { certFile, keyFile, checkS: 3600 }, loadCertificate(certFile, keyFile), logger);
		try {
			expect(reloader.reloadNow()).toBe(false);
			write('live-cert', b.cert);
			expect(reloader.reloadNow()).toBe(false);
			expect(setSecureContext).not.toHaveBeenCalled();
			expect(warn).toHaveBeenCalledWith(expect.anything(), expect.stringMatching(/do not load; still serving the previous certificate/));
			expect(reloader.current.subject).toBe('CN=a.test');
			write('live-key', b.key);
			expect(reloader.reloadNow()).toBe(true);
			expect(setSecureContext).toHaveBeenCalledWith(expect.objectContaining({ cert: b.cert, key: b.key, minVersion: 'TLSv1.2' }));
			expect(reloader.current.subject).toBe('CN=b.test');
		} finally {
			reloader.close();
		}
	});
});

describe('redirectHost()', () => {
	it('keeps the Host header\'s name only, and refuses anything else', () => {
		expect(redirectHost('tribune.example.com')).toBe('tribune.example.com');
		expect(redirectHost('tribune.example.com:80')).toBe('tribune.example.com');
		expect(redirectHost('[2001:db8::1]:80')).toBe('[2001:db8::1]');
		for (const bad of [undefined, '', 'evil.example/x', 'user@evil.example', 'a b', 'x.example:80:80']) expect(redirectHost(bad)).toBeUndefined();
	});
});
