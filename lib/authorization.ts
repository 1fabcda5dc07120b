import type * as cognito from 'aws-cdk-lib/aws-cognito';

/** How callers of the check API (`POST /v1/liveness-checks`, `GET /v1/liveness-checks/{id}`) authenticate. */
export type LivenessAuthorizationMode = 'API_KEY' | 'IAM' | 'COGNITO';

/**
 * The check API's authorization. The Didit webhook route is never covered: Didit authenticates it with its HMAC
 * signature. Use the static factories.
 */
export class LivenessAuthorization {
  /** An `x-api-key` tied to a throttled usage plan; the service creates the key. The default. */
  static apiKey(): LivenessAuthorization {
    return new LivenessAuthorization('API_KEY', undefined, []);
  }

  /** SigV4-signed requests from principals allowed `execute-api:Invoke` (see `LivenessService.grantInvoke`). */
  static iam(): LivenessAuthorization {
    return new LivenessAuthorization('IAM', undefined, []);
  }

  /**
   * A Cognito user pool authorizer: callers send a pool token in `Authorization`.
   *
   * @param userPool the pool whose tokens are accepted
   * @param scopes OAuth scopes an access token must carry; none means any valid ID token is accepted
   */
  static cognito(userPool: cognito.IUserPool, scopes: readonly string[] = []): LivenessAuthorization {
    return new LivenessAuthorization('COGNITO', userPool, [...scopes]);
  }

  private constructor(
    /** Which kind of authorization this is. */
    readonly mode: LivenessAuthorizationMode,
    /** The user pool, for COGNITO only. */
    readonly userPool: cognito.IUserPool | undefined,
    /** OAuth scopes required by the COGNITO authorizer. */
    readonly scopes: readonly string[],
  ) {}
}
