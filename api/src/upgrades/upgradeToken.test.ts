import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { selectSubprotocol, upgradeToken } from './upgradeToken.js';

const req = (headers: http.IncomingHttpHeaders) => ({ headers }) as http.IncomingMessage;
const url = (target: string) => new URL(target, 'http://x');

describe('upgradeToken()', () => {
	it('takes the token from the tribune.token subprotocol offered with tribune.v1', () => {
		expect(upgradeToken(req({ 'sec-websocket-protocol': 'tribune.v1, tribune.token.a.b-c_d' }), url('/ws'))).toBe('a.b-c_d');
		expect(upgradeToken(req({ 'sec-websocket-protocol': 'tribune.token.t,tribune.v1' }), url('/ws'))).toBe('t');
	});

	it('refuses a token subprotocol without tribune.v1, two token subprotocols, and an empty token', () => {
		expect(() => upgradeToken(req({ 'sec-websocket-protocol': 'tribune.token.t' }), url('/ws'))).toThrow(expect.objectContaining({ code: 'bad_request' }));
		expect(() => upgradeToken(req({ 'sec-websocket-protocol': 'tribune.v1, tribune.token.a, tribune.token.b' }), url('/ws'))).toThrow(expect.objectContaining({ code: 'bad_request' }));
		expect(() => upgradeToken(req({ 'sec-websocket-protocol': 'tribune.v1, tribune.token.' }), url('/ws'))).toThrow(expect.objectContaining({ code: 'unauthorized' }));
	});

	it('refuses a token in the URL unless the compatibility switch allows it', () => {
		expect(() => upgradeToken(req({}), url('/ws?token=t'))).toThrow(expect.objectContaining({ code: 'bad_request', message: expect.stringContaining('URL') }));
		expect(upgradeToken(req({}), url('/captions/ws?token=t'), { allowQueryToken: true })).toBe('t');
		// Even beside a token offered properly: the client leaked it.
		expect(() => upgradeToken(req({ 'sec-websocket-protocol': 'tribune.v1, tribune.token.t' }), url('/ws?token=t'))).toThrow(expect.objectContaining({ code: 'bad_request' }));
	});

	it('takes a bearer header only where allowed, and asks for the subprotocols when there is no token', () => {
		expect(upgradeToken(req({ authorization: 'Bearer b' }), url('/captions/ws'), { allowBearer: true })).toBe('b');
		expect(() => upgradeToken(req({ authorization: 'Bearer b' }), url('/ws'))).toThrow(expect.objectContaining({ code: 'unauthorized', message: expect.stringContaining('tribune.v1') }));
	});

	it('selects tribune.v1, never the token-bearing subprotocol', () => {
		expect(selectSubprotocol(new Set(['tribune.token.secret', 'tribune.v1']))).toBe('tribune.v1');
		expect(selectSubprotocol(new Set(['tribune.token.secret']))).toBe(false);
	});
});
