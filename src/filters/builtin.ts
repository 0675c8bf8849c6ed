// Filters every configuration can name without defining them: the data-bearing field lists of DESIGN §5.

import type { FilterConfig } from '../config/types.js';

/** Fields that carry data values inside OpenMetadata metadata responses. */
export const OPENMETADATA_DATA_FIELDS = Object.freeze([
  'sampleData',
  'profile',
  'tableProfilerConfig',
  'customMetrics',
  'schemaDefinition',
  'viewDefinition',
  'sql',
  'rawSql',
  'query',
  'sqlQuery',
  'testCaseResult',
  'testCaseResults',
  'failedRowsSample',
]);

/** Fields that carry data values inside Marquez / OpenLineage metadata responses. */
export const MARQUEZ_DATA_FIELDS = Object.freeze([
  'dataQualityMetrics',
  'dataQualityAssertions',
  'columnMetrics',
  'dataSource.uri',
  'sql',
  'sourceCode',
  'errorMessage',
  'args',
  'transformationDescription',
  'latestRun',
  'latestRuns',
]);

export const BUILTIN_FILTERS: Readonly<Record<string, FilterConfig>> = Object.freeze({
  /** the union of both platforms' lists: a safe start for a profile of another platform */
  'builtin.deny': { mode: 'deny', fields: [...new Set([...OPENMETADATA_DATA_FIELDS, ...MARQUEZ_DATA_FIELDS])] },
});
