import pino, { type Logger } from 'pino';

/**
 * The process logger: JSON lines on stdout, with the component name on every line. Child loggers add the ids that
 * matter (`spaceId`, `jobId`, `participantId`). Tokens and secrets are redacted wherever they appear.
 */
export function createLogger(component: string, level: string): Logger {
	return pino({
		level,
		base: { component, pid: process.pid },
		redact: {
			paths: ['token', '*.token', 'secret', '*.secret', 'password', '*.password', 'authorization', '*.authorization', 'req.headers.authorization'],
			censor: '[redacted]',
		},
	});
}
