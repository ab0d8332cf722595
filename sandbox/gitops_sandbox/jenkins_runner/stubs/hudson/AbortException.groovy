package hudson

/** Stand-in for Jenkins' hudson.AbortException: what `sh` and `error` throw on failure. */
class AbortException extends IOException {
    AbortException(String message) {
        super(message)
    }
}
