import { stageSentences } from './stageSentences.js';

/**
 * A second set of things people say in a live space, for honest word error rates: written for issue 18 before any
 * measurement with them, never used to tune a recogniser setting or to build a language model or vocabulary (tune on
 * `stageSentences`; report both). Plainer and less formulaic than the stage sentences, with longer sentences, a few
 * questions and some less common words. Every word is in Debian's cmudict-en-us; no numerals.
 */
export const heldOutSentences: readonly string[] = [
	'My grandmother taught me to bake bread when I was very young.',
	'Honestly, the hardest part of running a podcast is editing the audio afterwards.',
	'We moved the meeting to Thursday because half of the team was travelling.',
	'Has anyone tried the new bicycle lanes downtown yet?',
	'The library closes early on holidays, so plan your visit in the morning.',
	'I read somewhere that most people check their phones before breakfast.',
	'Our garden produced so many tomatoes that we gave bags of them to the neighbours.',
	'The train was delayed again, which is why I joined a little late.',
	'Before we wrap up, I want to hear from someone who has not spoken yet.',
	'She spent twenty years as a nurse before she started writing novels.',
	'What would you change about the way schools teach history?',
	'The museum is free on the first Sunday of every month.',
	'I learned more from my mistakes than from anything that went well.',
	'Please keep your questions short so that more people get a turn.',
	'The river flooded the lower fields twice this spring.',
	'Our local bakery sells out of croissants before eight in the morning.',
	'If the sound drops, try leaving the room and joining again.',
	'He plays the guitar in a small band that performs on weekends.',
	'Renting an apartment in this city has become very expensive.',
	'I am not sure I agree, but it is an interesting point of view.',
	'The children painted a mural on the wall behind the school.',
	'Could the person with the dog in the background mute their microphone?',
	'We are collecting donations for the animal shelter until the end of the month.',
	'Let us move on to the next topic, which is the summer festival.',
];

/** The bench's whole WER set: the stage sentences (tuned on) and the held-out ones (never tuned on). */
export const werSentenceSets = { stage: stageSentences, heldout: heldOutSentences } as const;
export type WerSentenceSet = keyof typeof werSentenceSets;
