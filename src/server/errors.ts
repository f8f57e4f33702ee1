/**
 * Errors the explorer's API answers: an {@link HttpError} carries its status; a {@link UserError}
 * is a 400; everything else is a 500 whose answer names no file and carries no stack (the server's
 * log keeps the stack). Every error answer is `{ error: "<one line a person understands>" }`.
 */
import { UserError } from '../errors.ts';

/** An error with the HTTP status the API answers it with. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One line: the first line of a message, at most `max` characters. */
export function oneLine(s: string, max = 300): string {
  const line = s.split('\n')[0].trim();
  return line.length > max ? line.slice(0, max - 3) + '...' : line;
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  validation?: unknown;
  message?: string;
}

/** The status and the one-line message of an error, as the API answers it. */
export function errorAnswer(
  e: unknown,
  limits: { bodyBytes: number; imageBytes: number },
): { status: number; error: string; internal: boolean } {
  if (e instanceof HttpError) return { status: e.status, error: oneLine(e.message), internal: false };
  if (e instanceof UserError) return { status: 400, error: oneLine(e.message), internal: false };
  const f = (e ?? {}) as FastifyLikeError;
  switch (f.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        error: `the request body is larger than the ${limits.bodyBytes} bytes this server takes for JSON; send less`,
        internal: false,
      };
    case 'FST_REQ_FILE_TOO_LARGE':
      return {
        status: 413,
        error: `an uploaded file is larger than the ${limits.imageBytes} bytes this server takes per image; send a smaller file`,
        internal: false,
      };
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return {
        status: 413,
        error: 'too many files or fields in one upload; send fewer at a time',
        internal: false,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        error: 'unsupported content type; send JSON (application/json) or files (multipart/form-data)',
        internal: false,
      };
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return { status: 406, error: 'this route takes files as multipart/form-data', internal: false };
  }
  if (f.validation)
    return { status: 400, error: oneLine(`invalid request: ${f.message ?? ''}`), internal: false };
  if (typeof f.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500)
    return { status: f.statusCode, error: oneLine(f.message ?? 'bad request'), internal: false };
  const msg = String((e as Error)?.message ?? e);
  if (
    /memory access out of bounds|out of memory|Cannot enlarge memory|Array buffer allocation failed/i.test(
      msg,
    )
  )
    return {
      status: 507,
      error: 'the computation ran out of memory; use fewer or smaller images, fewer steps or a smaller model',
      internal: false,
    };
  return {
    status: 500,
    error: 'internal error in the server (its log has the details); try again, or report it if it repeats',
    internal: true,
  };
}
