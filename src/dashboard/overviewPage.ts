import type { ModelActivity } from '../ops/eventActivity';
import type { ModelStats } from '../ops/eventStats';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { esc } from './escapeHtml';

/**
 * The overview: per model, the counts by state per type, the processing activity of the last
 * hour as a chart, the delay percentiles, and the types without a handler. Rendered as the
 * fragment the page refreshes every few seconds.
 * @internal
 */
export function overviewFragment(stats: ModelStats[], activity: ModelActivity[], base: string): string {
  const unknown = handlerRegistry.loaded
    ? ''
    : '<p class="warn">No handlers are registered in this process, so the handler column cannot tell: call <code>loadHandlers(orm)</code> before serving the dashboard.</p>';
  return (
    unknown +
    stats
      .map(model => {
        const act = activity.find(item => item.model === model.model);
        const rows = model.types
          .map(
            type => `<tr data-type="${esc(type.type)}"><td><a href="${esc(base)}/events?model=${encodeURIComponent(model.model)}&type=${encodeURIComponent(type.type)}">${esc(type.type)}</a></td>
<td class="num" data-count="pending">${type.pendingDue}</td><td class="num" data-count="scheduled">${type.scheduled}</td>
<td class="num" data-count="retrying">${type.retrying}</td><td class="num" data-count="dead">${type.dead}</td>
<td class="num" data-count="processed">${type.processed}</td><td class="num">${type.oldestPendingSeconds === null ? '–' : `${type.oldestPendingSeconds}s`}</td>
<td>${type.hasHandler ? 'yes' : '<span class="warn">none</span>'}</td></tr>`,
          )
          .join('');
        return `<section data-model="${esc(model.model)}"><h2>${esc(model.model)}</h2>
<table><thead><tr><th>type</th><th>pending due</th><th>scheduled</th><th>retrying</th><th>dead</th><th>processed</th><th>oldest pending</th><th>handler</th></tr></thead>
<tbody>${rows || '<tr><td colspan="8">no events</td></tr>'}</tbody></table>
${model.unhandledTypes.length ? `<p class="warn">Types with no registered handler (they stay pending): ${model.unhandledTypes.map(esc).join(', ')}</p>` : ''}
${act ? activityChart(act) : ''}</section>`;
      })
      .join('')
  );
}

function activityChart(activity: ModelActivity): string {
  const width = 600;
  const height = 120;
  const max = Math.max(1, ...activity.processedPerMinute, ...activity.failuresPerMinute);
  const line = (values: number[]) =>
    values
      .map(
        (value, index) =>
          `${((index / 59) * width).toFixed(1)},${(height - (value / max) * (height - 10)).toFixed(1)}`,
      )
      .join(' ');
  const delay = (seconds: number | null) => (seconds === null ? '–' : `${seconds.toFixed(2)} s`);
  return `<p class="legend"><span class="ok">■ processed per minute</span><span class="bad">■ failures per minute</span>
last hour; max ${max}/min · delay p50 ${delay(activity.delayP50)}, p95 ${delay(activity.delayP95)}</p>
<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="events per minute, last hour">
<polyline fill="none" stroke="#2b8a3e" stroke-width="2" points="${line(activity.processedPerMinute)}"/>
<polyline fill="none" stroke="#c92a2a" stroke-width="2" points="${line(activity.failuresPerMinute)}"/></svg>`;
}
