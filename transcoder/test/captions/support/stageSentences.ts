/**
 * Things people say on a live stage, for word error rates. Written before any tuning and never used to build a
 * language model; every word is in Debian's cmudict-en-us. No numerals (a recogniser spells numbers out).
 */
export const stageSentences: readonly string[] = [
	"Thanks everyone for joining us tonight, let's get started.",
	'Can you hear me okay, or should I move closer to the microphone?',
	'I think the most important thing is to listen to the people who use the product.',
	"We have about ten minutes left, so let's take a few questions from the audience.",
	"Welcome back to the show, it's great to have you here with us again.",
	"I'd like to invite our next speaker up to the stage.",
	"That's a really good question, and I'm glad you asked it.",
	'Please raise your hand if you want to say something.',
	'The new version will be available to everyone next month.',
	'Let me share a quick story about how this project started.',
	'We spent most of last year talking to small business owners.',
	"I don't agree with that, but I understand why people feel that way.",
	'Could you tell us a little more about your background?',
	'Our team is growing, and we are hiring engineers and designers.',
	"I'm going to mute myself for a moment while the next guest joins.",
	'The biggest challenge was finding enough time to test everything.',
	'Thank you so much for coming, and have a wonderful evening.',
	'If you missed the beginning, the recording will be posted tomorrow.',
	'Some of you asked about the price, so let me explain how it works.',
	'I want to thank the volunteers who helped organize this event.',
	"Let's give a warm welcome to our guest from the city council.",
	'We will take a short break and come back in five minutes.',
	'Does anyone in the room have experience with public speaking?',
	'The weather has been terrible this week, but the turnout is amazing.',
];
