import { z } from 'zod';

/**
 * Parses environment variables with a zod object schema into an immutable, typed config. Every Tribune process
 * reads `process.env` once, here, at startup; an invalid value throws one error that names each variable and the
 * form it expects, so a misconfigured deployment stops before it serves anyone.
 */
export function parseEnv<S extends z.ZodObject>(
	schema: S,
	env: Record<string, string | undefined>,
	component: string,
): Readonly<z.output<S>> {
	// Treat empty strings as unset, as shells and .env files often produce them.
	const cleaned: Record<string, string> = {};
	for (const key of Object.keys(schema.shape)) {
		const value = env[key];
		if (value !== undefined && value !== '') cleaned[key] = value;
	}
	const result = schema.safeParse(cleaned);
	if (!result.success) {
		const lines = result.error.issues.map((issue) => {
			const name = issue.path.join('.') || '(env)';
			const given = typeof issue.path[0] === 'string' ? cleaned[issue.path[0]] : undefined;
			// Secrets are never echoed, even wrong ones: the message lands in logs.
			const shown = given === undefined ? '(unset)' : /SECRET|PASSWORD|_TOKEN$/.test(name) ? '(hidden)' : JSON.stringify(given);
			return `  ${name}=${shown}: ${issue.message}`;
		});
		throw new ConfigError(`invalid ${component} configuration:\n${lines.join('\n')}`);
	}
	return Object.freeze(result.data);
}

/** Process exit codes Tribune's processes share; the launcher does not restart a child that exits with `config`. */
export const exitCodes = { config: 78 } as const; // 78: EX_CONFIG in sysexits.h

/** Thrown at startup when configuration is invalid; the message is meant for the operator. */
export class ConfigError extends Error {
	override readonly name = 'ConfigError';
}

/** Common env value shapes, with messages that say what is expected. */
export const envValue = {
	port: () => z.coerce.number({ message: 'expected a port number' }).int().min(1, 'expected 1-65535').max(65535, 'expected 1-65535'),
	positiveInt: () => z.coerce.number({ message: 'expected a whole number' }).int('expected a whole number').positive('expected a number > 0'),
	boolean: () =>
		z.enum(['1', '0', 'true', 'false', 'yes', 'no'], { message: 'expected true or false' }).transform((v) => v === '1' || v === 'true' || v === 'yes'),
	logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'expected fatal|error|warn|info|debug|trace|silent' }),
};
