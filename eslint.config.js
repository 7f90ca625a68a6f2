// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'eslint.config.js', '.cache/**'] },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Late-bound collaborators (a callback that reads an object built a few lines later) are lets.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // The pure core: no I/O, no clock, no AWS, no knowledge of the layers above it.
    files: ['ipam/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@aws-sdk/*', '@smithy/*'], message: 'ipam/ is pure: no AWS SDK types.' },
            { group: ['node:*', 'fs', 'net', 'http', 'child_process'], message: 'ipam/ is pure: no I/O.' },
            { group: ['**/agent/**', '**/provider/**', '**/sim/**'], message: 'ipam/ imports nothing above it.' },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'ipam/ takes time as a parameter.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'ipam/ has no timers.' },
        { name: 'setInterval', message: 'ipam/ has no timers.' },
      ],
    },
  },
  {
    // Only provider/ (and the simulator's SDK transport) speak AWS: EC2, IMDS and CloudWatch alike.
    files: ['agent/**/*.ts', 'cni/**/*.ts', 'cli/**/*.ts', 'time/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@aws-sdk/*', '@smithy/*'],
              message: 'Only provider/ imports the AWS SDK: add the call to provider/ and use its domain types.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
);
