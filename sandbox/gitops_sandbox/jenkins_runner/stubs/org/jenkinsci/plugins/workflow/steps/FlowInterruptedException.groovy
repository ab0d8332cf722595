package org.jenkinsci.plugins.workflow.steps

import jenkins.model.CauseOfInterruption

/**
 * Stand-in for workflow-step-api's FlowInterruptedException: what a step throws when
 * the build or the enclosing `timeout` interrupts it. `result` is the build's result
 * if it propagates (Jenkins' Result, here its name: ABORTED, NOT_BUILT); `causes`
 * print at the end of the console, after "[Pipeline] End of Pipeline".
 */
class FlowInterruptedException extends InterruptedException {
    final String result
    final List<CauseOfInterruption> causes

    FlowInterruptedException(String result, List<CauseOfInterruption> causes) {
        super(causes*.shortDescription.join(', '))
        this.result = result
        this.causes = Collections.unmodifiableList(new ArrayList<CauseOfInterruption>(causes))
    }
}
