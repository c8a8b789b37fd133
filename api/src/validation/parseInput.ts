import type { z } from 'zod';
import { TribuneError } from '../errors.js';

/** Parses a REST body or parameter at the edge: the first problem becomes a `bad_request` naming its field. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown): T {
	const result = schema.safeParse(value);
	if (!result.success) {
		const issue = result.error.issues[0];
		throw new TribuneError('bad_request', issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid body');
	}
	return result.data;
}
