import type * as cognito from 'aws-cdk-lib/aws-cognito';

/** The OAuth scope a Cognito access token needs by default: resource server `liveness`, scope `checks`. */
export const DEFAULT_COGNITO_SCOPE = 'liveness/checks';

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
   * A Cognito user pool authorizer: callers send a pool **access token** in `Authorization` that carries one of
   * `scopes` (ID tokens are refused: API Gateway checks scopes on access tokens only). A check belongs to the token's
   * `sub`, or to its `client_id` for a client-credentials token. The pool needs a resource server with the scope
   * (the default `liveness/checks`: identifier `liveness`, scope `checks`) and its app clients must be allowed it.
   *
   * @param userPool the pool whose tokens are accepted
   * @param scopes OAuth scopes, at least one; a token needs one of them. @default [DEFAULT_COGNITO_SCOPE]
   */
  static cognito(
    userPool: cognito.IUserPool,
    scopes: readonly string[] = [DEFAULT_COGNITO_SCOPE],
  ): LivenessAuthorization {
    if (scopes.length === 0) {
      throw new Error(
        'LivenessAuthorization.cognito needs at least one OAuth scope: without one any token of the pool could ' +
          `read checks (default "${DEFAULT_COGNITO_SCOPE}")`,
      );
    }
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
