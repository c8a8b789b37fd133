/**
 * Where a moment lies on a replay's timeline: at its program date-time when a segment spans it, else as far from the
 * end as it was (what a replay loaded early played is the end of the stream), s.
 */
export function replayTimeOf(
	fragments: readonly { start: number; duration: number; programDateTime: number | null }[],
	totalDurationS: number,
	at: { dateMs: number | undefined; fromEndS: number },
): number {
	if (at.dateMs !== undefined) {
		const dateMs = at.dateMs;
		const within = fragments.find((f) => f.programDateTime !== null && dateMs >= f.programDateTime && dateMs < f.programDateTime + f.duration * 1000);
		if (within?.programDateTime != null) return within.start + (dateMs - within.programDateTime) / 1000;
	}
	return Math.max(0, totalDurationS - at.fromEndS);
}
