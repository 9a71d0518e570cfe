/*!
 * Fatal errors of the library: bad options, an invalid log_format, an unreadable input, a --metrics
 * address that cannot be listened on.
 * Bad log lines are not errors; they are counted by the pipeline (core/stats.ts).
 */

export type ErrorCode =
  | 'OPTION_INVALID'
  | 'FORMAT_UNKNOWN_PRESET'
  | 'FORMAT_UNCLOSED_BRACE'
  | 'FORMAT_EMPTY_VARIABLE'
  | 'FORMAT_ADJACENT_VARIABLES'
  | 'FORMAT_UNCLOSED_QUOTE'
  | 'FORMAT_BAD_ESCAPE'
  | 'FORMAT_EMPTY'
  | 'FORMAT_NO_MATCH'
  | 'CONF_SYNTAX'
  | 'CONF_NOT_FOUND'
  | 'CONF_NO_FORMAT'
  | 'INPUT_NOT_FOUND'
  | 'INPUT_UNREADABLE'
  | 'INPUT_BAD_GZIP'
  | 'INPUT_INTERRUPTED'
  | 'CLICKHOUSE_UNREACHABLE'
  | 'CLICKHOUSE_AUTH'
  | 'CLICKHOUSE_NO_TABLE'
  | 'CLICKHOUSE_NO_COLUMN'
  | 'CLICKHOUSE_QUERY'
  | 'METRICS_LISTEN';

/** Where an error happened: any of file, 1-based line, 1-based column, and the offending text. */
export interface Where {
  file?: string;
  line?: number;
  column?: number;
  text?: string;
}

export class AnalyzerError extends Error {
  readonly code: ErrorCode;
  readonly where: Where | undefined;

  constructor(code: ErrorCode, message: string, where?: Where, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AnalyzerError';
    this.code = code;
    this.where = where;
  }
}

export function isAnalyzerError(err: unknown): err is AnalyzerError {
  return err instanceof AnalyzerError;
}

/** Shortens user text for messages: at most `max` characters, with an ellipsis. */
export function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
