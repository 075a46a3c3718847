// Types every operation in src/ from the server's schema (web/schema.graphql, exported by
// `distribox schema` and kept equal to the server's by a test in the api crate).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**'],
  ignoreNoDocuments: false,
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: 'string', ID: 'string', JSON: 'Record<string, unknown>' },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
