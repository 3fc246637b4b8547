// graphql-codegen's client preset: typed documents for the operations in operations/, and
// the persisted-documents map a build registers with `notes-bff persisted-queries push`.
// #region codegen
import { addTypenameSelectionDocumentTransform, type ClientPresetConfig } from "@graphql-codegen/client-preset";
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["operations/*.graphql"],
  emitLegacyCommonJSImports: false, // imports with .js: runnable as Node ES modules
  generates: {
    "gql/": {
      preset: "client",
      presetConfig: {
        fragmentMasking: false,
        // Only hashes in the bundle; gql/persisted-documents.json maps them to the texts.
        persistedDocuments: { mode: "replaceDocumentWithHash", hashAlgorithm: "sha256" },
      } satisfies ClientPresetConfig,
      // __typename in every selection, so normalized caches can key what they receive.
      documentTransforms: [addTypenameSelectionDocumentTransform],
      config: { enumsAsTypes: true, useTypeImports: true, scalars: { DateTime: "string" } },
    },
  },
};
export default config;
// #endregion codegen
