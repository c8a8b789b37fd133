import type { SyntheticConversationRequest } from './stage/syntheticSpeakerRequests.js';

/**
 * What `npm run demo`'s synthetic speakers say: three flite voices taking turns, looped, telling a newcomer what to
 * try (turn captions on, raise a hand, the replay). Each line was chosen, among several wordings and voices, as one
 * the default caption engine (PocketSphinx with Debian's model) recognises word for word in its speaker's voice,
 * before and after Opus — `api/test/demoConversation.test.ts` checks every line — so the first captions a newcomer
 * sees are right. Change a line or a voice only with that test passing.
 */
export const demoConversation: SyntheticConversationRequest = {
	speakers: [
		{ displayName: 'Brian (synthetic)', voice: 'rms' },
		{ displayName: 'Ada (synthetic)', voice: 'slt' },
		{ displayName: 'Ken (synthetic)', voice: 'kal16' },
	],
	lines: [
		{ speaker: 0, text: 'Hello and welcome. This is a live demo of Tribune.' },
		{ speaker: 1, text: 'Thanks. We are three synthetic voices, and we take turns speaking.' },
		{ speaker: 2, text: 'Press the captions button to read what we are saying.' },
		{ speaker: 0, text: 'To join the conversation, raise your hand and the host can bring you on stage.' },
		{ speaker: 1, text: 'If you missed the beginning, you can watch the replay later.' },
		{ speaker: 2, text: 'That is all for now. We will start again in a moment.' },
	],
	pauseMs: 1200,
};
