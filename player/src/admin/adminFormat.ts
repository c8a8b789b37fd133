/** Words and times for the operator's page; pure, so they are unit-tested. */

/** Expiry choices for a host invite, in seconds (the server allows 60 s to 30 days). */
export const inviteExpiries: readonly { seconds: number; label: string }[] = [
	{ seconds: 3600, label: '1 hour' },
	{ seconds: 86_400, label: '1 day' },
	{ seconds: 7 * 86_400, label: '7 days' },
	{ seconds: 30 * 86_400, label: '30 days' },
];

/** An epoch time the server gave, in ms (seconds are recognised: anything before 2001 in ms is taken as s). */
export function epochMs(value: number): number {
	return value < 1e12 ? value * 1000 : value;
}

/** A short local date and time, or '–' for none. */
export function formatTime(value: number | null | undefined, locale?: string): string {
	if (value === null || value === undefined || !Number.isFinite(value)) return '–';
	return new Date(epochMs(value)).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}

export interface InviteLike {
	expiresAt: number;
	maxUses: number;
	uses: number;
	revoked?: boolean;
}

/** Whether an invite may still be redeemed, and if not, why. */
export function inviteState(invite: InviteLike, nowMs: number): 'active' | 'revoked' | 'expired' | 'used' {
	if (invite.revoked) return 'revoked';
	if (epochMs(invite.expiresAt) <= nowMs) return 'expired';
	if (invite.uses >= invite.maxUses) return 'used';
	return 'active';
}

export const inviteStateWords: Record<ReturnType<typeof inviteState>, string> = {
	active: 'Open',
	revoked: 'Revoked',
	expired: 'Expired',
	used: 'Used up',
};

/** "1 use" / "3 of 5 uses used" (whether a one-use invite was used is its state). */
export function usesWords(invite: Pick<InviteLike, 'uses' | 'maxUses'>): string {
	return invite.maxUses === 1 ? '1 use' : `${invite.uses} of ${invite.maxUses} uses used`;
}
