import type { SyntheticConversationRequest } from './stage/syntheticSpeakerRequests.js';

/**
 * What `npm run demo`'s synthetic speakers say: three flite voices taking turns, looped, telling a newcomer what to
 * try (turn captions on, raise a hand, the replay). Each line was chosen, among several wordings and voices, as one
 * the default caption engine (PocketSphinx with Debian's model) recognises word for word in its speaker's voice,
 * as flite says it and after Opus at 32 and 64 kbit/s — `api/test/demoConversation.test.ts` checks every line — so the first captions a newcomer
 * sees are right. Change a line or a voice only with that test passing.
 */
export const demoConversation: SyntheticConversationRequest = {
	speakers: [
		{ displayName: 'Brian (synthetic)', voice: 'rms' },
		{ displayName: 'Ada (synthetic)', voice: 'slt' },
		{ displayName: 'Ken (synthetic)', voice: 'kal16' },
	],
	lines: [
		{ speaker: 0, text: 'Hello everyone, and welcome to our stage.' },
		{ speaker: 1, text: 'Thanks. We are three computer voices, and we take turns to speak.' },
		{ speaker: 2, text: 'Turn on the captions to read what we are saying.' },
		{ speaker: 0, text: 'Please raise your hand if you want to say something.' },
		{ speaker: 1, text: 'If you missed the beginning, you can watch the replay later.' },
		{ speaker: 2, text: 'That is all for now. We will start again in a moment.' },
	],
	pauseMs: 1200,
};

/**
 * The demo's space. Its title, description and speakers' names are the space's caption vocabulary (made likelier in
 * the recognisers), so the test of the lines above hears them with it.
 */
export const demoSpace = {
	title: 'Tribune demo stage',
	description: 'A live space with three synthetic speakers who take turns. Turn captions on, raise your hand, and try the replay.',
	hostName: 'Demo host',
} as const;
