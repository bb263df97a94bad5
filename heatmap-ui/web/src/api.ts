// The HTTP calls the page makes: the Prometheus API (query, query_range) and the
// dashboards API. Errors come back as values carrying the server's own error text, so
// that each view shows them where they belong.

export type Metric = Record<string, string>;
export interface RangeSeries {
  metric: Metric;
  values: [number, string][];
}
export interface InstantSample {
  metric: Metric;
  value: [number, string];
}
/** What the dashboards API says the page may do (`meta` beside `data`). */
export interface Meta {
  canSave?: boolean;
}
export type Result<T> =
  | { ok: true; data: T; warnings?: string[]; meta?: Meta }
  | { ok: false; error: string; errorType?: string };

interface Envelope<T> {
  status: 'success' | 'error';
  data?: T;
  error?: string;
  errorType?: string;
  warnings?: string[];
  meta?: Meta;
}

async function call<T>(url: string, init?: RequestInit): Promise<Result<T>> {
  let resp: Response;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    return { ok: false, error: `cannot reach the server: ${(e as Error).message}`, errorType: 'network' };
  }
  let body: Envelope<T>;
  try {
    body = (await resp.json()) as Envelope<T>;
  } catch {
    return { ok: false, error: `HTTP ${resp.status} ${resp.statusText}`, errorType: 'http' };
  }
  if (body.status !== 'success' || body.data === undefined) {
    return { ok: false, error: body.error ?? `HTTP ${resp.status}`, errorType: body.errorType };
  }
  return { ok: true, data: body.data, warnings: body.warnings, meta: body.meta };
}

function form(params: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  };
}

export interface QueryData<T> {
  resultType: string;
  result: T;
}

export async function queryRange(query: string, start: number, end: number, step: number): Promise<Result<RangeSeries[]>> {
  const r = await call<QueryData<RangeSeries[]>>(
    '/api/v1/query_range',
    form({ query, start: String(start), end: String(end), step: String(step) }),
  );
  return r.ok ? { ok: true, data: r.data.result, warnings: r.warnings } : r;
}

/** An instant query's answer as it comes: a vector, a matrix, a scalar or a string. */
export function queryAt(query: string, time?: number): Promise<Result<QueryData<unknown>>> {
  const params: Record<string, string> = { query };
  if (time !== undefined) params.time = String(time);
  return call<QueryData<unknown>>('/api/v1/query', form(params));
}

/** An instant query for a panel; scalars come back as one sample with no labels. */
export async function queryInstant(query: string, time?: number): Promise<Result<InstantSample[]>> {
  const r = await queryAt(query, time);
  if (!r.ok) return r;
  const { resultType, result } = r.data;
  if (resultType === 'vector') return { ok: true, data: result as InstantSample[] };
  if (resultType === 'scalar' || resultType === 'string')
    return { ok: true, data: [{ metric: {}, value: result as [number, string] }] };
  return { ok: false, error: `a ${resultType} cannot be shown here; use a range query in the graph`, errorType: 'bad_data' };
}

// ---- dashboards ----

export interface Tab {
  name: string;
  expr: string;
  unit?: string;
}
export interface PanelDef {
  type: 'timeseries' | 'stat' | 'histogram_heatmap' | 'entity_heatmap';
  title: string;
  width?: number;
  unit?: string;
  expr?: string;
  legend?: string;
  tabs?: Tab[];
  group_by?: string;
  sort_by?: string;
}
export interface Dashboard {
  id: string;
  title: string;
  range?: string;
  panels: PanelDef[];
}
export interface DashboardSummary {
  id: string;
  title: string;
  panels: number;
  builtin: boolean;
}

export const listDashboards = () => call<DashboardSummary[]>('/api/ui/dashboards');
export const getDashboard = (id: string) => call<Dashboard>(`/api/ui/dashboards/${encodeURIComponent(id)}`);
export const saveDashboard = (d: Dashboard) =>
  call<Dashboard>(`/api/ui/dashboards/${encodeURIComponent(d.id)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(d),
  });

/** The queries a panel subscribes to, in order. */
export function panelQueries(p: PanelDef): string[] {
  if (p.type === 'entity_heatmap') return (p.tabs ?? []).map((t) => t.expr);
  return p.expr ? [p.expr] : [];
}
