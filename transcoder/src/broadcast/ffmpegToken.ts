import type { LiveCommand } from './liveLayout.js';

/**
 * Quotes `value` for ffmpeg's tokenizer, `av_get_token` (libavutil/avstring.c), so it comes back exactly. Every
 * parser on a live command's way is that tokenizer: the zmq filter splits `<target> <command> <arg>` with it
 * (f_zmq.c `parse_command`, up to a space, \f, \t, \n or \r), and drawtext's `reinit` splits its argument again
 * (`av_set_options_string`: a key up to `=`, its value up to `:`). Inside single quotes `av_get_token` copies every
 * byte up to the next quote, and outside them a backslash copies the byte after it; so `'…'`, with each `'` written
 * `'\''` (close, escaped quote, reopen), is one token equal to `value` for any terminators but `'` and `\`: leading
 * and trailing spaces kept (the whitespace trim stops at the last closing quote), and the whole token consumed.
 * Quoted once per parser, innermost first (see `layoutCommands` and `zmqCommandText`).
 */
export function quoteFfmpegToken(value: string): string {
	// A NUL would end the C string the tokenizer reads; names never carry one (displayName drops control characters).
	if (value.includes('\0')) throw new RangeError('quoteFfmpegToken: a NUL cannot reach ffmpeg');
	return `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * The text of a live command as ffmpeg's zmq filter must receive it: the target and command are Tribune's own
 * names (letters, digits, `_` and `@`), and the argument is quoted for the filter's tokenizer, so the filter hands the
 * target filter exactly `command.arg` — spaces, quotes, backslashes and all.
 */
export function zmqCommandText(command: LiveCommand): string {
	for (const name of [command.target, command.command]) {
		if (!/^[A-Za-z0-9_@]+$/.test(name)) throw new RangeError(`zmqCommandText: ${JSON.stringify(name)} is not a filter or command name`);
	}
	return `${command.target} ${command.command} ${quoteFfmpegToken(command.arg)}`;
}
