/**
 * Random plugin invocations for fuzzing: a CNI command and environment, and a stdin that is
 * garbage, arbitrary JSON, a valid network config with random fields replaced, or one cut short.
 * Socket and spool paths only ever point into the test's own directory (the plugin writes the
 * spool wherever it is told to).
 */
import fc from 'fast-check';

export interface PluginInvocation {
  env: Record<string, string>;
  stdin: string;
}

export interface FuzzPaths {
  socket: string;
  missingSocket: string;
  spool: string;
}

const validIds = ['abc123', 'c0ffee', 'pod-1.sandbox_2'];

/** Mostly the well-formed value, so that runs get past validation and reach the agent. */
function oneOfWeighted<T>(good: fc.Arbitrary<T>, any: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 9, arbitrary: good }, { weight: 1, arbitrary: any });
}

function optionalEnv(key: string, values: fc.Arbitrary<string>): fc.Arbitrary<Record<string, string>> {
  return fc
    .option(values, { nil: undefined })
    .map((v): Record<string, string> => (v === undefined ? {} : { [key]: v }));
}

export function pluginInvocation(paths: FuzzPaths): fc.Arbitrary<PluginInvocation> {
  const command = oneOfWeighted(
    fc.constantFrom('ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'),
    fc.constantFrom('add', '', 'EXPLODE'),
  );
  const env = fc
    .tuple(
      command,
      optionalEnv('CNI_CONTAINERID', oneOfWeighted(fc.constantFrom(...validIds), fc.string())),
      optionalEnv('CNI_IFNAME', oneOfWeighted(fc.constant('eth0'), fc.string({ maxLength: 20 }))),
      optionalEnv('CNI_NETNS', oneOfWeighted(fc.constant('/var/run/netns/x'), fc.string())),
      optionalEnv(
        'CNI_ARGS',
        fc.oneof(
          fc.constant('IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_UID=u'),
          fc.string(),
        ),
      ),
    )
    .map(([cmd, ...parts]) => ({
      CNI_COMMAND: cmd,
      // Never the host defaults under /var/run.
      ENI_IPAM_SOCKET: paths.socket,
      ENI_IPAM_SPOOL: paths.spool,
      ...parts.reduce<Record<string, string>>((all, part) => ({ ...all, ...part }), {}),
    }));

  const anyJson = fc.jsonValue({ maxDepth: 3 });
  const field = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> => oneOfWeighted<unknown>(good, anyJson);
  const ipam = fc.record(
    {
      type: field(fc.constant('eni-ipam')),
      socket: field(fc.constantFrom(paths.socket, paths.socket, paths.socket, paths.missingSocket)),
      spoolPath: field(fc.constant(paths.spool)),
      addTimeoutSeconds: field(fc.constantFrom(2, 0.5)),
    },
    { requiredKeys: [] },
  );
  const ipEntry = fc.record(
    { address: field(fc.constantFrom('10.0.1.10/24', '10.0.1.99/24')) },
    { requiredKeys: [] },
  );
  const config = fc.record(
    {
      cniVersion: field(
        oneOfWeighted(fc.constantFrom('1.1.0', '1.0.0', '0.4.0', '0.3.1'), fc.constantFrom('2.0.0', '')),
      ),
      name: field(oneOfWeighted(fc.constant('aws-cni'), fc.constantFrom('bad name!', ''))),
      type: field(fc.constant('ptp')),
      ipam: field(ipam),
      prevResult: field(
        fc.record({ cniVersion: fc.constant('1.0.0'), ips: field(fc.array(ipEntry, { maxLength: 3 })) }),
      ),
      'cni.dev/valid-attachments': field(
        fc.array(
          fc.record({ containerID: field(fc.constantFrom(...validIds)), ifname: field(fc.constant('eth0')) }),
          {
            maxLength: 3,
          },
        ),
      ),
      runtimeConfig: field(
        fc.record({ 'io.kubernetes.cri.pod-annotations': field(fc.dictionary(fc.string(), fc.string())) }),
      ),
    },
    { requiredKeys: ['cniVersion', 'name', 'ipam'] },
  );
  const configText = config.map((c) => JSON.stringify(c));
  const stdin = fc.oneof(
    { weight: 4, arbitrary: configText },
    { weight: 1, arbitrary: fc.tuple(configText, fc.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1))) },
    { weight: 1, arbitrary: anyJson.map((j) => JSON.stringify(j)) },
    { weight: 1, arbitrary: fc.string() },
  );
  return fc.record({ env, stdin });
}

/** What every plugin run must satisfy, whatever it was given. */
export function checkPluginOutput(exitCode: number | null, stdout: string): void {
  if (exitCode !== 0 && exitCode !== 1) throw new Error(`exit code ${exitCode}`);
  if (exitCode === 0) {
    if (stdout === '') return;
    const ok = JSON.parse(stdout) as Record<string, unknown>;
    if (typeof ok['cniVersion'] !== 'string') throw new Error(`success without cniVersion: ${stdout}`);
    return;
  }
  const body = JSON.parse(stdout) as Record<string, unknown>;
  const code = body['code'];
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 1) throw new Error(`bad code: ${stdout}`);
  if (typeof body['msg'] !== 'string' || typeof body['cniVersion'] !== 'string')
    throw new Error(`bad error: ${stdout}`);
  const extra = Object.keys(body).filter((k) => !['cniVersion', 'code', 'msg', 'details'].includes(k));
  if (extra.length > 0) throw new Error(`unexpected keys ${extra.join(',')}`);
  if (/\n\s+at /.test(stdout)) throw new Error(`stack trace in ${stdout}`);
}
