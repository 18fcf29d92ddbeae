import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "../custom_components/"] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ["build.mjs"],
    languageOptions: { globals: { console: "readonly", process: "readonly" } },
  },
);
