import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ConfigError, envValue, parseEnv } from './parseEnv.js';

const schema = z.object({
	PORT: envValue.port().default(8080),
	WORKERS: envValue.positiveInt().optional(),
	DEBUG: envValue.boolean().default(false),
});

describe('parseEnv()', () => {
	it('applies defaults for unset and empty variables', () => {
		expect(parseEnv(schema, { PORT: '' }, 'test')).toEqual({ PORT: 8080, DEBUG: false });
	});

	it('coerces numbers and booleans from strings', () => {
		expect(parseEnv(schema, { PORT: '9000', WORKERS: '4', DEBUG: 'yes' }, 'test')).toEqual({ PORT: 9000, WORKERS: 4, DEBUG: true });
	});

	it('rejects every invalid variable in one error that names it, its value and the expected form', () => {
		let error: unknown;
		try {
			parseEnv(schema, { PORT: 'eighty', WORKERS: '-2', DEBUG: 'maybe' }, 'test');
		} catch (e) {
			error = e;
		}
		expect(error).toBeInstanceOf(ConfigError);
		const message = (error as Error).message;
		expect(message).toContain('invalid test configuration');
		expect(message).toContain('PORT="eighty": expected a port number');
		expect(message).toContain('WORKERS="-2": expected a number > 0');
		expect(message).toContain('DEBUG="maybe": expected true or false');
	});

	it('rejects out-of-range ports', () => {
		expect(() => parseEnv(schema, { PORT: '70000' }, 'test')).toThrow(/PORT="70000": expected 1-65535/);
	});

	it('returns a frozen object', () => {
		expect(Object.isFrozen(parseEnv(schema, {}, 'test'))).toBe(true);
	});

	it('ignores variables the schema does not name', () => {
		expect(parseEnv(schema, { HOME: '/root', PATH: '/bin' }, 'test')).toEqual({ PORT: 8080, DEBUG: false });
	});
});
