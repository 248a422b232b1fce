/**
 * RFC 3339 times, as the API takes them: `2026-11-27T10:00:00Z`, with optional
 * fractions of a second and a `Z` or `±hh:mm` offset (`t`, `z` and a space for
 * `T` allowed, as RFC 3339 allows). Checked to be a real instant: no
 * February 30th, no hour 24. Without regular-expression captures or
 * substrings: the heartbeat path checks nine of these per beat.
 */
const SHAPE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const digits = (text: string, at: number, count: number): number => {
  let value = 0;
  for (let i = at; i < at + count; i++) value = value * 10 + (text.charCodeAt(i) - 48);
  return value;
};

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

export function isRfc3339(text: string): boolean {
  if (text.length > 64 || !SHAPE.test(text)) return false;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  // A leap second (:60) is a valid RFC 3339 time.
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || digits(text, 11, 2) > 23 || digits(text, 14, 2) > 59 || digits(text, 17, 2) > 60) {
    return false;
  }
  const last = text.charCodeAt(text.length - 1);
  if (last === 90 || last === 122) return true; // Z, z
  return digits(text, text.length - 5, 2) <= 23 && digits(text, text.length - 2, 2) <= 59;
}
