import { request } from 'undici';

/** Samples of a Prometheus text exposition, keyed `name` or `name{labels}` exactly as written. */
export type MetricSamples = Map<string, number>;

export function parsePrometheus(text: string): MetricSamples {
  const samples: MetricSamples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match) samples.set(match[1], Number(match[2]));
  }
  return samples;
}

/** GET /metrics; null when the server has no metrics endpoint (404) or it cannot be read. */
export async function scrapeMetrics(baseUrl: string): Promise<MetricSamples | null> {
  try {
    const res = await request(`${baseUrl}/metrics`, { headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await res.body.text();
    return res.statusCode === 200 ? parsePrometheus(text) : null;
  } catch {
    return null;
  }
}

/** One sample's value, or null when the metric is not exposed. */
export function sample(samples: MetricSamples | null, key: string): number | null {
  const value = samples?.get(key);
  return value === undefined || Number.isNaN(value) ? null : value;
}

/**
 * Growth of a counter between two scrapes. A labelled Prometheus counter is
 * exposed only once incremented, so a sample missing from a scrape that did
 * answer counts as 0; null only when a scrape failed or `family` (the
 * metric name) is absent from both, i.e. the server does not expose it.
 */
export function counterDelta(before: MetricSamples | null, after: MetricSamples | null, key: string, family = key.replace(/\{.*$/, '')): number | null {
  if (!before || !after) return null;
  const exposed = (samples: MetricSamples) => [...samples.keys()].some((k) => k === family || k.startsWith(`${family}{`));
  if (!exposed(before) && !exposed(after)) return null;
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}
