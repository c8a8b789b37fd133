import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/restApi.js';
import { operatorSentence } from './useAdminAction.js';

describe('operatorSentence', () => {
	it("says the server's refusal as a sentence, with the wait it asked for", () => {
		expect(operatorSentence(new ApiError('limit_reached', 'this server holds 10000 host invites, its most; revoke some', 429))).toBe('This server holds 10000 host invites, its most; revoke some.');
		expect(operatorSentence(new ApiError('rate_limited', 'too many requests', 429, 30))).toBe('Too many requests. Try again in 30 s.');
		expect(operatorSentence(new ApiError('unavailable', 'the server is not answering', 0))).toBe('The server is not answering.');
		expect(operatorSentence(new ApiError('not_found', 'No such host.', 404))).toBe('No such host.');
	});
});
