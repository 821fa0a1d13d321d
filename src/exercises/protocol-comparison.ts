import { type ComparisonReport, generateComparisonReport, openComparison, reportBlocks, targetFromUrl } from '../comparison/index.js';
import type { ExerciseContext } from './context.js';
import type { ExerciseReport, Section } from './report.js';

/** Text lines of the report's blocks, as exercise sections. */
export function reportSections(report: ComparisonReport): Section[] {
  return reportBlocks(report)
    .filter((b) => !b.title.startsWith('Key question'))
    .map((b) => {
      const lines: Section['lines'] = [...(b.text ?? []).map((t) => `  ${t.replaceAll('`', '')}`)];
      // The table stays data: the report is laid out for the terminal's width when printed.
      if (b.table) lines.push(b.table);
      if (b.pre) lines.push(...b.pre.map((l) => `  ${l}`));
      return { title: b.title, lines };
    });
}

/**
 * Exercise 5 in the runner: the comparison with MQTT measured on the exercise's broker, RabbitMQ started on
 * loopback when installed (AMQP marked "not measured" otherwise), smaller bursts to keep it short.
 */
export async function runProtocolComparison(ctx: ExerciseContext): Promise<ExerciseReport<ComparisonReport>> {
  const started = Date.now();
  const { ctx: cmp, close } = await openComparison({ broker: ctx.url, messages: 2000, latencySamples: 200 });
  // The runner's broker is the one to measure: label it as the runner does.
  cmp.mqtt = [targetFromUrl(ctx.url.includes('127.0.0.1') ? 'exercise broker' : `broker at ${ctx.url}`, ctx.url)];
  try {
    const report = await generateComparisonReport(cmp, { command: 'mqttlab exercise protocol-comparison' });
    return {
      exercise: 'protocol-comparison',
      title: 'Exercise 5 — Protocol comparison: MQTT vs Kafka vs RabbitMQ vs Cloud Pub/Sub, measured where possible',
      broker: ctx.url,
      sections: reportSections(report),
      keyQuestion: report.keyQuestion,
      checks: report.checks.map((c) => ({ name: c.name, ok: c.ok, ...(c.detail ? { detail: c.detail } : {}) })),
      data: report,
      durationMs: Date.now() - started,
    };
  } finally {
    await close();
  }
}
