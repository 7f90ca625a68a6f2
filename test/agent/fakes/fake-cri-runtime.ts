/**
 * A CRI RuntimeService on a unix socket, for tests: a real gRPC server (grpc-js) serving the
 * subset proto of agent/runtime/, so that protobufjs encodes what the agent's own codec decodes.
 * It implements ListPodSandbox's state filter as containerd does, and NOT_FOUND for a sandbox that
 * went away between the list and its status.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTO = fileURLToPath(new URL('../../../agent/runtime/runtime-v1-subset.proto', import.meta.url));

export interface FakeSandbox {
  id: string;
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  network?: { ip: string; additional_ips?: { ip: string }[] };
  /** Listed, but gone by the time its status is asked. */
  vanishes?: boolean;
}

export type CriHandlers = Record<string, grpc.handleUnaryCall<unknown, unknown>>;

export function runtimeServiceDefinition(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, enums: String, longs: Number });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    runtime: { v1: { RuntimeService: { service: grpc.ServiceDefinition } } };
  };
  return pkg.runtime.v1.RuntimeService.service;
}

/** Handlers of a runtime holding `sandboxes()` (read at each call); every list request is recorded. */
export function fakeRuntime(
  sandboxes: () => readonly FakeSandbox[],
  listRequests: unknown[] = [],
): CriHandlers {
  return {
    ListPodSandbox: (call, callback) => {
      const request = call.request as { filter?: { state?: { state?: string } } };
      listRequests.push(request);
      const wanted = request.filter?.state ? (request.filter.state.state ?? 'SANDBOX_READY') : undefined;
      const items = sandboxes()
        .filter((s) => wanted === undefined || s.state === wanted)
        .map((s) => ({ id: s.id, metadata: s.metadata, state: s.state }));
      callback(null, { items });
    },
    PodSandboxStatus: (call, callback) => {
      const { pod_sandbox_id: id } = call.request as { pod_sandbox_id: string };
      const s = sandboxes().find((x) => x.id === id);
      if (!s || s.vanishes) {
        callback({ code: grpc.status.NOT_FOUND, details: `sandbox ${id} not found` });
        return;
      }
      callback(null, { status: { id: s.id, metadata: s.metadata, state: s.state, network: s.network } });
    },
  };
}

/** Serves `handlers` on `socketPath`; forceShutdown() the server returned to stop. */
export async function serveCri(socketPath: string, handlers: CriHandlers): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(runtimeServiceDefinition(), handlers);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
  return server;
}
