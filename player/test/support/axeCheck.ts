/// <reference types="node" />
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
// Evaluated, not added as a <script>: the app's CSP refuses inline scripts, and the test must not weaken it.
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
	id: string;
	impact: string | null;
	help: string;
	targets: string[];
}

/**
 * Runs axe-core on the page as it is now; returns the serious and critical violations. Elements in a leave transition
 * (Vue's `*-leave-active`: a toast fading out on its way out of the page) are left out: measured mid-fade their
 * contrast is the fade's, not what anyone reads (a CI run failed on a toast caught at its last frames).
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
	if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
	const violations = (await page.evaluate(async () => {
		const axe = (window as unknown as { axe: { run(ctx: unknown, options: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
		const result = await axe.run({ exclude: ['[class*="-leave-active"]'] }, { resultTypes: ['violations'] });
		return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
	})) as AxeViolation[];
	return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
