import type { ReactionKind } from '../../../api/src/signaling/protocol.js';

export const reactionEmoji: Record<ReactionKind, { emoji: string; label: string }> = {
	clap: { emoji: '👏', label: 'Clap' },
	laugh: { emoji: '😂', label: 'Laugh' },
	heart: { emoji: '❤️', label: 'Heart' },
	hundred: { emoji: '💯', label: 'Hundred' },
	fire: { emoji: '🔥', label: 'Fire' },
	thinking: { emoji: '🤔', label: 'Thinking' },
};

export interface FloatingReaction {
	id: number;
	kind: ReactionKind;
	/** Horizontal start, percent of the stage's width. */
	x: number;
	/** Reactions this bubble stands for (more than one when many arrive at once). */
	count: number;
}

/**
 * Keeps at most `maxFloating` reactions in the air. When more arrive, a reaction of the same kind already floating
 * counts it ("🔥 ×14") instead of adding a bubble, so a thousand listeners clapping stays readable and cheap. The
 * server already counts one tick's reactions of a kind: they arrive as one bubble of `count`.
 */
export function addReaction(floating: readonly FloatingReaction[], kind: ReactionKind, id: number, x: number, maxFloating = 12, count = 1): FloatingReaction[] {
	if (floating.length >= maxFloating) {
		const same = floating.findLast((r) => r.kind === kind);
		if (same) return floating.map((r) => (r === same ? { ...r, count: r.count + count } : r));
		return [...floating.slice(1), { id, kind, x, count }];
	}
	return [...floating, { id, kind, x, count }];
}
