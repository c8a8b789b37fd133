import { describe, expect, it } from 'vitest';
import { codeFromHash } from './fragmentCode.js';

describe('codeFromHash', () => {
	it('reads the code of an admin sign-in or host invite link', () => {
		const code = 'Qx3_-a9ZQx3_-a9ZQx3_-a9ZQx3_-a9ZQx3_-a9ZQx3';
		expect(codeFromHash(`#code=${code}`)).toBe(code);
		expect(codeFromHash(`code=${code}`)).toBe(code);
		expect(codeFromHash(`#other=1&code=${code}`)).toBe(code);
	});

	it('ignores a missing, short or malformed code', () => {
		expect(codeFromHash('')).toBeUndefined();
		expect(codeFromHash('#code=')).toBeUndefined();
		expect(codeFromHash('#code=short')).toBeUndefined();
		expect(codeFromHash('#code=<script>alert(1)</script>xxxxxxxx')).toBeUndefined();
		expect(codeFromHash(`#code=${'a'.repeat(300)}`)).toBeUndefined();
	});
});
