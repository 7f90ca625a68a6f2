/**
 * What this build is: the version comes from package.json, the project's one place for it, and is
 * compiled into the build (tsc copies the JSON next to the output; a bundler inlines it), so
 * `eni-ipam --version`, the start-up log line, the `eniipam_build_info` metric, the image labels
 * and the chart's appVersion all say the same thing.
 */
import packageJson from '../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;

/** The Node.js runtime this process runs on, without the leading "v". */
export const NODE_VERSION: string = process.versions.node;

/** The fields of the agent's first log line, so every log says which build wrote it. */
export function startupLogFields(): { version: string; nodejs: string } {
  return { version: VERSION, nodejs: NODE_VERSION };
}
