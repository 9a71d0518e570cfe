/*!
 * Times as the text outputs (terminal, Markdown, HTML) show them: the report's ISO strings (UTC)
 * in one zone for the whole report, the log's own UTC offset (meta.utcOffsetMinutes) unless UTC
 * was asked for, to the second. JSON and CSV keep the model's ISO strings.
 */
import type { Report } from './model.js';

/** Offset in minutes from UTC; 0 shows `Z`. */
export type Zone = number;

/** The zone a report's times are shown in: the log's own offset, or UTC when asked (or unknown). */
export function zoneOf(report: Report, utc: boolean | undefined): Zone {
  return utc === true ? 0 : (report.meta.utcOffsetMinutes ?? 0);
}

/** `+08:00`, `-05:30`, or `Z` for UTC. */
export function zoneLabel(zone: Zone): string {
  if (zone === 0) return 'Z';
  const a = Math.abs(zone);
  return `${zone < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** `UTC+08:00`, or `UTC`: the zone named in a caption. */
export function zoneName(zone: Zone): string {
  return zone === 0 ? 'UTC' : `UTC${zoneLabel(zone)}`;
}

/** `2018-03-09T15:03:34` (wall-clock time in `zone`, no suffix); null for a missing or bad time. */
function wall(iso: string, zone: Zone): string | null {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return null;
  return new Date(ms + zone * 60_000).toISOString().slice(0, 19);
}

/** `2018-03-09T15:03:34+08:00` (`…Z` in UTC); `-` for null; the text as given when it is no time. */
export function stamp(iso: string | null, zone: Zone): string {
  if (iso === null) return '-';
  const w = wall(iso, zone);
  return w === null ? iso : `${w}${zoneLabel(zone)}`;
}

/** The end of a span that starts at `from`: a clock time (`15:22:43`) when on the same day, else a full stamp. */
export function endStamp(from: string | null, to: string | null, zone: Zone): string {
  const a = from === null ? null : wall(from, zone);
  const b = to === null ? null : wall(to, zone);
  return a !== null && b !== null && a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : stamp(to, zone);
}

/** `2018-03-09T15:03:34+08:00 … 15:22:43`: a span, its end shortened by endStamp(). */
export function span(from: string | null, to: string | null, zone: Zone): string {
  return `${stamp(from, zone)} … ${endStamp(from, to, zone)}`;
}

/** `2018-03-09 15:00` for a chart's axis (the zone named in its caption). */
export function axisTime(iso: string, zone: Zone): string {
  return (wall(iso, zone) ?? iso).replace('T', ' ').slice(0, 16);
}
