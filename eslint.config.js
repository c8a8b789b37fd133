import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
	{ ignores: ['**/dist/**', '**/node_modules/**', 'player/**/*.vue'] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		languageOptions: { globals: { ...globals.node } },
		rules: {
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
			'@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
			'no-restricted-syntax': [
				'error',
				{ selector: 'ExportDefaultDeclaration', message: 'Named exports only (see STYLE.md).' },
			],
		},
	},
	{
		// Config files whose tools require a default export.
		files: ['**/*.config.{ts,js}', 'scripts/test/globalSetup.ts'],
		rules: { 'no-restricted-syntax': 'off' },
	},
	{
		files: ['player/src/**/*.ts'],
		languageOptions: { globals: { ...globals.browser } },
	},
);
