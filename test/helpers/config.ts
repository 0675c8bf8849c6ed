// The smallest configuration object that builds: the required keys only, everything else from the schema's defaults.

export function minimalConfig(): Record<string, any> {
  return {
    upstream: { url: 'http://127.0.0.1:8585' },
    auth: { issuer: 'https://idp.example', audience: 'metagate', jwks: { url: 'https://idp.example/jwks' } },
    policy: { categories: { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } } },
    routes: { profiles: ['openmetadata'] },
  };
}
