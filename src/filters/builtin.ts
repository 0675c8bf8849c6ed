// Filters every configuration can name without defining them: the data-bearing field lists of DESIGN §5.
// Each list holds every entry of its shipped profile's deny filter (a unit test keeps them in step).

import type { FilterConfig } from '../config/types.js';

/** Fields that carry data values inside OpenMetadata metadata responses. */
export const OPENMETADATA_DATA_FIELDS = Object.freeze([
  'sampleData',
  'profile',
  'customMetricsProfile',
  'tableProfilerConfig',
  'databaseProfilerConfig',
  'databaseSchemaProfilerConfig',
  'profileQuery',
  'partitionValues',
  'customMetrics',
  'testSuite',
  'testCaseResult',
  'testCaseResults',
  'testResultValue',
  'failedRowsSample',
  'inspectionQuery',
  'schemaDefinition',
  'viewDefinition',
  'sql',
  'rawSql',
  'query',
  'sqlQuery',
  'taskSQL',
  'storedProcedureCode',
  'columnsLineage.function',
  'columns.function',
  'oldValue',
  'newValue',
  'sourceHash',
]);

/**
 * Fields that carry data values inside Marquez / OpenLineage metadata responses. `facets` (and the OpenLineage event
 * shapes inputFacets/outputFacets) go whole: facets are an open set, so no list of data-bearing ones is complete
 * (DESIGN §5). The named entries after them still apply outside facets (run objects, `context`, column lineage).
 */
export const MARQUEZ_DATA_FIELDS = Object.freeze([
  'facets',
  'inputFacets',
  'outputFacets',
  'dataQualityMetrics',
  'dataQualityAssertions',
  'columnMetrics',
  'dataSource.uri',
  'connectionUrl',
  'sql',
  'sourceCode',
  'context',
  'errorMessage',
  'args',
  'transformationDescription',
  'transformations.description',
  'latestRun',
  'latestRuns',
  'createdByRun',
]);

export const BUILTIN_FILTERS: Readonly<Record<string, FilterConfig>> = Object.freeze({
  /** the union of both platforms' lists: a safe start for a profile of another platform */
  'builtin.deny': { mode: 'deny', fields: [...new Set([...OPENMETADATA_DATA_FIELDS, ...MARQUEZ_DATA_FIELDS])] },
});
