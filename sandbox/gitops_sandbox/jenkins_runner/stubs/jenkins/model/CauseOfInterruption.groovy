package jenkins.model

/**
 * Stand-in for Jenkins' jenkins.model.CauseOfInterruption: why a build or step was
 * interrupted, as its console prints it (`getShortDescription()`): "Timeout has been
 * exceeded" (TimeoutStepExecution.ExceededTimeout), "Aborted by admin"
 * (UserInterruption), "Superseded by #2" (DisableConcurrentBuildsJobProperty.CancelledCause).
 */
class CauseOfInterruption implements Serializable {
    final String shortDescription

    CauseOfInterruption(String shortDescription) {
        this.shortDescription = shortDescription
    }

    @Override
    String toString() {
        return shortDescription
    }
}
