import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { vllmArgs } from '../../services/xim-agent/engine/vllm-command.js';
import { startupBudgetSeconds } from '../rules/models.js';
import type { XimModel } from '../settings.js';
import { hardened, preStopSleep } from './k8s-common.js';

type Container = k8s.types.input.core.v1.Container;
type Probe = k8s.types.input.core.v1.Probe;

export const SOCKET_DIR = '/run/xerotier';
export const SOCKET = `${SOCKET_DIR}/engine.sock`;
/** The `xim` user of the xim-agent image (images/xim-agent/Dockerfile), which vLLM also runs as. */
export const XIM_UID = 5152;
export const MODELS_DIR = '/models';
const HOME = '/home/xim';
const CACHES = '/var/cache/xerotier';
/** The agent finishes in-flight streams this long on SIGTERM (XEROTIER_AGENT_SHUTDOWN_GRACE_SECONDS). */
export const AGENT_DRAIN_SECONDS = 30;
/** vLLM keeps serving while the agent drains, then gets its own SIGTERM and this long to exit. */
const ENGINE_STOP_SECONDS = 30;
export const XIM_TERMINATION_SECONDS = AGENT_DRAIN_SECONDS + 5 + ENGINE_STOP_SECONDS + 10;

/**
 * vLLM listens on a Unix socket only (`--uds`), so kubelet cannot probe it over HTTP: the probe
 * is Python (which the vLLM image has) asking the socket for /health.
 */
export function engineProbe(path = '/health'): k8s.types.input.core.v1.ExecAction {
  const script = `import socket,sys;s=socket.socket(socket.AF_UNIX);s.settimeout(4);s.connect(sys.argv[1]);s.sendall(b"GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n");sys.exit(0 if s.recv(64).split(b" ")[1:2]==[b"200"] else 1)`;
  return { command: ['python3', '-c', script, SOCKET] };
}

/** Startup allows for loading (and, without a shared cache, downloading) the weights; then readiness and liveness. */
export function engineProbes(
  model: XimModel,
  prewarmed: boolean,
): { startupProbe: Probe; readinessProbe: Probe; livenessProbe: Probe } {
  const period = 10;
  return {
    startupProbe: {
      exec: engineProbe(),
      periodSeconds: period,
      timeoutSeconds: 5,
      failureThreshold: Math.ceil(startupBudgetSeconds(model.weightsGi, prewarmed) / period),
    },
    readinessProbe: { exec: engineProbe(), periodSeconds: period, timeoutSeconds: 5, failureThreshold: 3 },
    livenessProbe: { exec: engineProbe(), periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 4 },
  };
}

/**
 * The environment vLLM gets: a home and caches of its own on volumes (the image's user has a
 * passwd entry, so torch's getuser works; HOME, the XDG, vLLM, Inductor and Triton caches and
 * the Hugging Face cache are all writable mounts), HF_TOKEN from the model's Secret when it is
 * gated, and offline mode when the weights were fetched ahead into the shared cache.
 */
export function engineEnv(options: {
  hfTokenSecret?: pulumi.Input<string>;
  prewarmed: boolean;
}): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: 'HOME', value: HOME },
    { name: 'USER', value: 'xim' },
    { name: 'HF_HOME', value: MODELS_DIR },
    { name: 'XDG_CACHE_HOME', value: CACHES },
    { name: 'VLLM_CACHE_ROOT', value: `${CACHES}/vllm` },
    { name: 'TORCHINDUCTOR_CACHE_DIR', value: `${CACHES}/torchinductor` },
    { name: 'TRITON_CACHE_DIR', value: `${CACHES}/triton` },
    { name: 'VLLM_NO_USAGE_STATS', value: '1' },
    { name: 'DO_NOT_TRACK', value: '1' },
    ...(options.prewarmed ? [{ name: 'HF_HUB_OFFLINE', value: '1' }] : []),
    ...(options.hfTokenSecret
      ? [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: options.hfTokenSecret, key: 'HF_TOKEN' } } }]
      : []),
  ];
}

export interface EngineContainerArgs {
  readonly image: string;
  readonly model: XimModel;
  readonly prewarmed: boolean;
  readonly hfTokenSecret?: pulumi.Input<string>;
}

/** The vLLM container: the xim-agent image (vLLM plus a real user), the model's GPUs, the probes, a drain-aware stop. */
export function engineContainer(args: EngineContainerArgs): Container {
  const { model } = args;
  const extraArgs = [...(model.revision ? ['--revision', model.revision] : []), ...model.vllmArgs];
  return hardened(
    {
      name: 'vllm',
      image: args.image,
      command: ['vllm'],
      args: vllmArgs({
        model: model.model,
        socketPath: SOCKET,
        tensorParallelSize: model.gpus,
        maxNumSeqs: model.maxNumSeqs,
        maxModelLen: model.maxModelLen,
        extraArgs,
      }),
      env: engineEnv({
        prewarmed: args.prewarmed,
        ...(args.hfTokenSecret ? { hfTokenSecret: args.hfTokenSecret } : {}),
      }),
      ...engineProbes(model, args.prewarmed),
      // The agent drains first (AGENT_DRAIN_SECONDS); vLLM keeps serving it until then.
      lifecycle: preStopSleep(AGENT_DRAIN_SECONDS + 5),
      resources: {
        limits: { 'nvidia.com/gpu': String(model.gpus) },
        requests: { 'nvidia.com/gpu': String(model.gpus), cpu: model.resources.cpu, memory: model.resources.memory },
      },
      volumeMounts: [
        { name: 'socket', mountPath: SOCKET_DIR },
        { name: 'models', mountPath: MODELS_DIR },
        { name: 'home', mountPath: HOME },
        { name: 'caches', mountPath: CACHES },
        { name: 'shm', mountPath: '/dev/shm' },
        { name: 'tmp', mountPath: '/tmp' },
      ],
    },
    false,
  );
}

/** The volumes of an XIM pod other than the model cache (a claim of the StatefulSet or the shared PVC). */
export function podVolumes(joinSecret: pulumi.Input<string>): k8s.types.input.core.v1.Volume[] {
  return [
    { name: 'socket', emptyDir: {} },
    { name: 'home', emptyDir: { sizeLimit: '1Gi' } },
    { name: 'caches', emptyDir: { sizeLimit: '20Gi' } },
    { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '8Gi' } },
    { name: 'tmp', emptyDir: {} },
    // The whole Secret, not per-key items: a new replica's key then changes no pod template.
    { name: 'join', secret: { secretName: joinSecret } },
  ];
}
